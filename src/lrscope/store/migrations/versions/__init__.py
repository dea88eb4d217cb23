"""The revisions of the store's schema, one module per schema version (see the parent)."""
