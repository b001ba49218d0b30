# The PyPI ROS wheels export <pkg>__rosidl_generator_py targets whose include folders point at the
# machine they were built on (/opt/python/...). Injected with -DCMAKE_PROJECT_INCLUDE, this swaps
# them, at the end of configure, for this venv's Python and NumPy include folders.
function(_fix_wheel_py_includes)
  get_property(_imported DIRECTORY "${CMAKE_SOURCE_DIR}" PROPERTY IMPORTED_TARGETS)
  foreach(_t IN LISTS _imported)
    get_target_property(_inc ${_t} INTERFACE_INCLUDE_DIRECTORIES)
    if(_inc AND "${_inc}" MATCHES "/opt/python/")
      list(FILTER _inc EXCLUDE REGEX "^/opt/python/")
      list(APPEND _inc ${WHEEL_PY_INCLUDES})
      set_target_properties(${_t} PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${_inc}")
    endif()
  endforeach()
endfunction()
cmake_language(DEFER DIRECTORY "${CMAKE_SOURCE_DIR}" CALL _fix_wheel_py_includes)
