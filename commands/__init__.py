"""The write side: command Structs, their handlers, write tables and the event contract."""
