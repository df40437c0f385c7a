# Script mode: writes OUT defining `const char* const NAME` with the text of IN.
file(READ ${IN} text)
file(WRITE ${OUT} "extern const char* const ${NAME};\nconst char* const ${NAME} = R\"dmtext(${text})dmtext\";\n")
