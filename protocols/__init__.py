"""Sans-IO protocol code: bytes or text in, typed values out. No I/O, clocks or config here."""
