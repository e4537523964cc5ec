"""EST (RFC 7030, RFC 8951): the HTTP front end under /.well-known/est/."""
