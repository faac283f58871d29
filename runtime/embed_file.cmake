# Writes OUT: the text of IN as a C++ raw string literal, to be used as
#   static const char kManifest[] =
#   #include "manifest.inc"
#   ;
file(READ ${IN} content)
file(WRITE ${OUT}.tmp "R\"weftjson(${content})weftjson\"\n")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
