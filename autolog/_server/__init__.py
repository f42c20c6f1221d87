"""The tracking server: the native API for autolog's writer and MLflow's REST subset, over
the SQL store (`autolog.backends.sql`) and an artifact store (a directory or S3).
"""
