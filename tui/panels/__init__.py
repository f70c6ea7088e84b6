"""Pure renderers of metrics panels: snapshot values in, table rows and text out."""
