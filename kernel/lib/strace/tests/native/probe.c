/* probe: the syscalls the strace decoder knows, made harmlessly in the
 * current directory (a fresh temporary one in tests/native.rs). Deterministic
 * except for pids, times and random bytes, which the test masks. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <sys/syscall.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <signal.h>
#include <poll.h>
#include <time.h>
#include <stdio.h>
static void handler(int s) { (void)s; }
#define STATX_BASIC_STATS 0x7ff
#define STATX_ALL 0xfff
struct statx_buf { char b[256]; };
int main(void){
  int fd=open("/dev/null",O_WRONLY);
  write(fd,"a\0b\0017\033x\177\377\"\\\t\n\r\v\f 1234567890123456789012345678901234567890",60);
  write(fd,"\001\0028",3);
  char b[64]; int z=open("/dev/zero",O_RDONLY); read(z,b,40); read(z,b,10);
  struct stat st; fstat(z,&st); fstat(fd,&st); stat("/etc/passwd",&st); stat("/nonexist",&st);
  ioctl(1,TCGETS,b); struct winsize ws; ioctl(1,TIOCGWINSZ,&ws);
  struct utsname u; uname(&u);
  getrandom(b,8,GRND_NONBLOCK);
  struct timespec t={0,1000}; nanosleep(&t,0); clock_gettime(CLOCK_MONOTONIC,&t); t.tv_sec=0; t.tv_nsec=2000;
  clock_nanosleep(CLOCK_MONOTONIC,0,&t,NULL);
  int p[2]; pipe2(p,O_CLOEXEC); dup(p[0]); dup2(p[0],20); dup3(p[0],21,O_CLOEXEC);
  fcntl(p[0],F_GETFD); fcntl(p[0],F_SETFD,FD_CLOEXEC); fcntl(p[0],F_GETFL); fcntl(p[0],F_SETFL,O_NONBLOCK); fcntl(p[0],F_DUPFD,30);
  struct pollfd pf={p[0],POLLIN,0}; poll(&pf,1,0); write(p[1],"x",1); poll(&pf,1,0);
  struct rlimit rl; prlimit(0,RLIMIT_STACK,NULL,&rl); getrlimit(RLIMIT_NOFILE,&rl);
  void *m=mmap(0,8192,PROT_READ|PROT_WRITE,MAP_PRIVATE|MAP_ANONYMOUS,-1,0);
  madvise(m,4096,MADV_DONTNEED); mprotect(m,4096,PROT_NONE); m=mremap(m,8192,16384,MREMAP_MAYMOVE); munmap(m,16384);
  int e=open("/etc/passwd",O_RDONLY); mmap(0,4096,PROT_READ,MAP_PRIVATE,e,4096); lseek(e,5,SEEK_SET); lseek(e,0,SEEK_END);
  getcwd(b,64); access(".",R_OK|W_OK); mkdir("sub",0700); chdir("sub"); chdir(".."); access("/nonexist",F_OK);
  mkdirat(AT_FDCWD,"dd",0755); unlinkat(AT_FDCWD,"dd",AT_REMOVEDIR); syscall(SYS_renameat2,AT_FDCWD,"nx",AT_FDCWD,"ny",1);
  struct iovec iov[2]={{"ab",2},{"cd\n",3}}; writev(fd,iov,2);
  char a1[3],a2[40]; struct iovec riov[2]={{a1,2},{a2,40}}; readv(z,riov,2);
  sigset_t s; sigemptyset(&s); sigaddset(&s,SIGCHLD); sigprocmask(SIG_BLOCK,&s,NULL); sigfillset(&s); sigprocmask(SIG_SETMASK,&s,&s);
  struct sigaction sa={0}; sa.sa_handler=SIG_IGN; sigaction(SIGINT,&sa,NULL);
  getpid(); getppid(); umask(022); openat(AT_FDCWD,"newf",O_CREAT|O_WRONLY|O_TRUNC,0644);
  syscall(500,1,2,3); close(99); syscall(SYS_getdents64,e,b,64);
  int d=open(".",O_RDONLY|O_DIRECTORY); char big[4096]; syscall(SYS_getdents64,d,big,4096);
  readlink("/proc/self/exe",b,64);
  struct sigaction sa2={0}, old; sa2.sa_handler=handler; sigemptyset(&sa2.sa_mask); sigaddset(&sa2.sa_mask,SIGINT); sigaddset(&sa2.sa_mask,SIGTERM);
  sa2.sa_flags=SA_RESTART|SA_NODEFER; sigaction(SIGUSR1,&sa2,NULL); sigaction(SIGUSR1,NULL,&old);
  stack_t ss={0}, os; static char altstack[16384]; ss.ss_sp=altstack; ss.ss_size=sizeof altstack; sigaltstack(&ss,&os); sigaltstack(NULL,&os);
  struct statx_buf sx; syscall(SYS_statx,AT_FDCWD,"/etc/passwd",0,STATX_BASIC_STATS,&sx);
  syscall(SYS_statx,AT_FDCWD,"/etc/passwd",AT_SYMLINK_NOFOLLOW,STATX_ALL,&sx);
  syscall(SYS_statx,3,"",AT_EMPTY_PATH,STATX_ALL,&sx);
  syscall(SYS_statx,AT_FDCWD,"/nonexist",0,STATX_BASIC_STATS,&sx);
  return 3;
}
