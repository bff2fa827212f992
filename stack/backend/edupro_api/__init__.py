"""EduPro backend: student records, FERPA/GDPR rules and the pass/fail prediction API."""
