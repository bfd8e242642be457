"""Access control as Redis 7.0 has it: users, rules, selectors and the permission check.

``rules`` parses ACL SETUSER's grammar into ``Selector``/``User`` objects, ``describe``
turns them back into Redis's exact ACL LIST / GETUSER text, ``access`` holds the users,
the ACL log and the ACL file. The dispatcher calls ``AccessControl.check``; no command
handler knows about ACLs.
"""
