#!/bin/sh
# /init of the default softkvm guest (busybox). With "softkvm.test" on the kernel command line it
# prints a marker and powers off (the boot test); otherwise it starts a shell on the console.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
hostname softkvm
case " $(cat /proc/cmdline) " in
*" softkvm.test "*)
	echo "SOFTKVM-BOOT-OK $(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
	poweroff -f
	;;
esac
echo "softkvm guest: $(uname -sr), busybox shell. 'poweroff' ends the VM."
exec setsid cttyhack /bin/sh -l
