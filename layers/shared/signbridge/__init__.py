"""signbridge: the shared layer (models, mappers, clients, store, logic) of the Sign Customiser integration."""
