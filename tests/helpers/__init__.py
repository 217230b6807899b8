"""Test helpers: throwaway TLS certificates, silent TCP peers, free ports."""
