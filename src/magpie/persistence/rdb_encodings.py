# TEMPORARY STUB (untracked) until the rdb-encodings branch lands
class EncodingError(ValueError):
    pass
def decode_ziplist(blob): raise EncodingError("stub")
decode_listpack = decode_intset = decode_zipmap = decode_ziplist
