"""The rotation service: the Rotator and the parts it is built from, talking only to ports.

:mod:`~keyturn.rotation.rotator` reads each user and asks the pure planner what to do;
:mod:`~keyturn.rotation.executor` carries out each action crash-safely through
:mod:`~keyturn.rotation.promotion` (stage, prove with :mod:`~keyturn.rotation.proof`,
promote); :mod:`~keyturn.rotation.restore` and :mod:`~keyturn.rotation.secrets_manager` are
the undo button and Secrets Manager's rotation protocol; :mod:`~keyturn.rotation.audit` and
:mod:`~keyturn.rotation.notices` say what happened; :mod:`~keyturn.rotation.results` and
:mod:`~keyturn.rotation.views` are what a run reports.
"""
