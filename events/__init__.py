"""Seminar series and their talks: records, time rules, import and export."""
