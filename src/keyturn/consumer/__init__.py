"""The consumer face: applications pulling the current key (``keyturn credential-process``)."""
