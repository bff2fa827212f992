"""The pytest plugin's jobs, one module each; edupro_verify.plugin only hooks them in."""
