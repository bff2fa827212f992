"""The deploy driver behind deploy.sh: brings the reference EduPro stack up as local processes."""
