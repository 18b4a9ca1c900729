"""The rules about data: who is asking, purposes and consent, the guard that every read of
personal data passes through, subject rights and differential privacy."""
