"""Cross-cutting helpers without domain logic."""
