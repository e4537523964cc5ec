"""The crypto boundary: the only package that imports cryptography's X.509/hazmat layers,
pyOpenSSL, PKCS#11 or KMS clients. Everything else calls its small typed functions."""
