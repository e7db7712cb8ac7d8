"""Running arm64 code on x86 hosts: QEMU user-mode emulation, root filesystems, instruction counting."""
