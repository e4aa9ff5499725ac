"""Fleet scale: credential-report scans, AWS Organizations accounts and SQS fan-out.

The dispatcher (``keyturn.fleet.dispatcher.lambda_handler``) finds the users that may be due in
every selected account and enqueues one message per (account, user); the worker
(``keyturn.fleet.worker.lambda_handler``) runs the ordinary engine for each message.
"""
