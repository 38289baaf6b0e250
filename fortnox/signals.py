from django.dispatch import Signal

# Sent once per incident, after the transaction that marked the connection has committed.
# kwargs: connection (a FortnoxConnection). The reactivation e-mail hooks onto it.
connection_needs_reactivation = Signal()

# Sent after the transaction of a consent (first or renewed) has committed. kwargs: connection,
# reactivated (True when the consent brought an integration stopped for reactivation back to
# active). The integrations app runs it at once then.
connection_connected = Signal()
