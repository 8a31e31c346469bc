/* unknown: raw syscalls with values strace has no names for (all fail or do
 * nothing), for the `0x9 SEEK_???` forms. Harmless. */
#include <unistd.h>
#include <sys/syscall.h>
int main(void){
  syscall(SYS_arch_prctl,0x3001,0x1000); syscall(SYS_lseek,0,0,9); syscall(SYS_clock_gettime,77,0);
  syscall(SYS_madvise,0,0,999); syscall(SYS_fcntl,0,999); syscall(SYS_rt_sigprocmask,7,0,0,8);
  syscall(SYS_prlimit64,0,99,0,0); syscall(SYS_ioctl,0,0x1234,0); syscall(SYS_ioctl,0,0xc0185400UL,0);
  syscall(SYS_openat,-100,"x",0x40000000,0); syscall(SYS_mmap,0,4096,0x10,0x1000000|0x22,-1,0);
  syscall(SYS_kill,0,0); syscall(SYS_kill,0,99); syscall(SYS_futex,0,0x80,0,0,0,0);
  return 0; }
