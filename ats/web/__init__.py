"""Browser-facing blueprints and app-wide handlers, one module per area."""
