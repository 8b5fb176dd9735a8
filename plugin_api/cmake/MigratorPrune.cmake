# Removes stale builds <STEM>-<12 hex>.so from DIR, keeping KEEP (see migrator_add_plugin).
file(GLOB _old "${DIR}/${STEM}-????????????.so")
foreach(_f IN LISTS _old)
    get_filename_component(_name "${_f}" NAME)
    if(NOT _name STREQUAL KEEP)
        file(REMOVE "${_f}")
    endif()
endforeach()
