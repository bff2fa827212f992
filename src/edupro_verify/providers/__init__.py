"""Where a target's servers come from, one module per source: an Ansible inventory (ansible_inventory)."""
