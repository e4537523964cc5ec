"""The only writers of PKI state: domains now; issuance, hierarchy, revocation and profiles
join as they are built."""
