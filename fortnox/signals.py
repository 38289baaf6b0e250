from django.dispatch import Signal

# Sent once per incident, after the transaction that marked the connection has committed.
# kwargs: connection (a FortnoxConnection). The reactivation e-mail hooks onto it.
connection_needs_reactivation = Signal()
