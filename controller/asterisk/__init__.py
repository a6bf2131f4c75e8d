"""Everything that speaks to Asterisk through ARI (its REST Interface and events WebSocket)."""
