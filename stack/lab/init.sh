#!/bin/sh
# PID 1 of a lab server: the host's own services, as its init system would start them.
set -e
# A restart is a reboot: /run is a tmpfs on a VM, so nothing of the last boot's runtime state is left.
rm -rf /run/fail2ban /run/sshd /run/*.pid /var/run/*.pid 2>/dev/null || true
[ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -A
touch /var/log/auth.log
rsyslogd
cron
if [ ! -e /var/lib/lab-server-provisioned ]; then  # first boot: the provider's firewall policy
  ufw default deny incoming >/dev/null
  ufw default allow outgoing >/dev/null
  ufw allow 22/tcp >/dev/null
  ufw allow 80/tcp >/dev/null
  ufw allow 443/tcp >/dev/null
  touch /var/lib/lab-server-provisioned
fi
ufw --force enable >/dev/null
mkdir -p /run/sshd /run/fail2ban
/usr/sbin/sshd
fail2ban-server -b >/dev/null
echo "lab server ready"
trap 'exit 0' TERM INT
while :; do sleep 3600 & wait $!; done
