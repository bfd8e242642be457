"""Lua scripting (EVAL, FUNCTION) on Lua 5.1, the interpreter version Redis embeds."""
