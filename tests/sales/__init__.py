"""Sales: importers, the bulk upsert, the import job, API and pages."""
