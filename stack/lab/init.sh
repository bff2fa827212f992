#!/bin/sh
# PID 1 of a lab server: the host's own services, as its init system would start them.
set -e
# A restart is a reboot: /run is a tmpfs on a VM, so nothing of the last boot's runtime state is left.
rm -rf /run/fail2ban /run/sshd /run/docker /run/containerd /run/*.pid /var/run/*.pid 2>/dev/null || true
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
set +e  # from here on, a service that fails to start is logged, never the end of PID 1
# The init system's part once Docker is installed (deploy.sh installs it from Debian): as systemd enables and starts
# docker.service on install and restarts it if it stops, start dockerd once its package is configured (its docker
# group made, which owns the API's socket) and whenever it is not running. Its control groups as a VM's kernel
# mounts them: writable, each controller its own hierarchy, name=systemd, cgroup2 on unified.
cgroups_mounted=""
while :; do
  if [ "$(dpkg-query -W -f '${Status}' docker.io 2>/dev/null)" = "install ok installed" ] && ! pgrep -x dockerd >/dev/null; then
    if [ -z "$cgroups_mounted" ]; then
      umount -R /sys/fs/cgroup 2>/dev/null || true
      mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
      for c in $(awk 'NR > 1 && $2 != 0 && $4 == 1 {print $1}' /proc/cgroups); do
        mkdir -p "/sys/fs/cgroup/$c" && mount -t cgroup -o "$c" cgroup "/sys/fs/cgroup/$c"
      done
      mkdir -p /sys/fs/cgroup/systemd /sys/fs/cgroup/unified
      mount -t cgroup -o none,name=systemd cgroup /sys/fs/cgroup/systemd
      mount -t cgroup2 none /sys/fs/cgroup/unified 2>/dev/null || true
      cgroups_mounted=1
    fi
    dockerd >>/var/log/docker.log 2>&1 &
  fi
  sleep 2 & wait $!
done
