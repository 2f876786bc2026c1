"""Interactive teaching widgets (ipywidgets + matplotlib PNG), each backed by a widget-free function."""
