# Writes IN as a NUL-terminated C array named composer_schema_json.
file(READ ${IN} HEX HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," BYTES ${HEX})
file(WRITE ${OUT} "const char composer_schema_json[] = {${BYTES} 0x00};\n")
