"""The Dash application: layout, component ids, callbacks, routes and exports."""
