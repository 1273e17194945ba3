# Kiln's task launcher (src/agent/exec/launcher.ts says why it exists). Run as root by the agent,
# whose pid is $ARGV[0] ($ARGV[1]: the cgroup it was started in, if any); it reads requests on stdin and answers on stdout, one line each, every
# field hex-encoded (lists: items joined by ","):
#   L id cgroup uid gid groups cwd stdout-fd stderr-fd argv env  ->  S id pid | E id errno
#   and later, once the process has exited:                      ->  X id exit-code signal
# cgroup, uid, gid and groups may be "-". stdout-fd and stderr-fd are the agent's descriptors,
# reopened here through /proc (the agent opened them without following links). The end of stdin
# (the agent is gone) ends the launcher; the runs' groups are the reaper's to kill.
use strict;
use warnings;
use POSIX ();

my ($agent, $home) = @ARGV;
my $CLONE_INTO_CGROUP = 1 << 33;
my $SIGCHLD = 17;
my $SYS_CLONE3 = 435;   # the same numbers on every Linux architecture
my $SYS_PIDFD_OPEN = 434;
my $SYS_CLOSE_RANGE = 436;
my $CLOSE_RANGE_CLOEXEC = 4;
my $O_DIRECTORY = 0200000;
my %runs;               # pid => id
my %pidfds;             # pid => a pidfd of it: readable once it has exited
my $clone3 = 1;         # until the kernel says otherwise

# Exits are seen through pidfds, not SIGCHLD: Perl runs a signal handler between two of its ops, so
# a child that exits just before select() is entered wakes nothing, and select() would wait until
# the next request, for ever on a node with nothing else to run. A pidfd stays readable until it is
# closed. Where there is none (Linux before 5.3), select() wakes every 50 ms to look.
$| = 1;

sub unhex { my ($s) = @_; return $s eq '-' ? undef : pack('H*', $s) }
sub list { my ($s) = @_; return map { pack('H*', $_) } split(/,/, $s, -1) }

# In the child: everything the process must have before exec, in order. A step that fails ends
# it, with the step and the reason on the task's stderr and its errno sent back.
sub become {
  my ($req) = @_;
  my $fail = sub { my $errno = $! + 0; print STDERR "kiln: the task could not be started: $_[0]: $!\n"; $! = $errno; die };
  POSIX::setsid();
  defined POSIX::dup2($req->{null}, 0) or $fail->('stdin');
  defined POSIX::dup2($req->{out}, 1) or $fail->('stdout');
  defined POSIX::dup2($req->{err}, 2) or $fail->('stderr');
  closing_at_exec() or $fail->('descriptors');
  if (defined $req->{uid}) {
    my $gid = $req->{gid} // $req->{uid};
    my @groups = $req->{groups} ? split(/,/, $req->{groups}) : ($gid);
    $) = join(' ', $gid, @groups);
    POSIX::setgid($gid) or $fail->('setgid');
    POSIX::setuid($req->{uid}) or $fail->('setuid');
    if ($< != $req->{uid} || $> != $req->{uid} || (split(' ', $())[0] != $gid || ($req->{uid} != 0 && POSIX::setuid(0))) { $! = POSIX::EPERM(); $fail->('user') }
  }
  chdir($req->{cwd}) or $fail->("cd $req->{cwd}");
  POSIX::sigprocmask(POSIX::SIG_SETMASK(), POSIX::SigSet->new());
  %ENV = ();
  for my $kv (@{ $req->{env} }) { my ($k, $v) = split(/=/, $kv, 2); $ENV{$k} = $v // '' }
  my @argv = @{ $req->{argv} };
  no warnings 'exec';   # the line below says it, once
  exec { $argv[0] } @argv or $fail->("exec $argv[0]");
}

# Only stdin, stdout and stderr reach the task: every other descriptor (this launcher's, and any the
# agent was started with and passed on) closes at exec. close_range (Linux 5.9), else one by one.
sub closing_at_exec {
  return 1 if syscall($SYS_CLOSE_RANGE, 3, 0xFFFFFFFF, $CLOSE_RANGE_CLOEXEC) == 0;
  opendir(my $fds, '/proc/self/fd') or return 0;
  my @open = grep { /^\d+$/ && $_ > 2 && $_ != fileno($fds) } readdir($fds);
  for my $fd (@open) {
    open(my $fh, '<&=', $fd) or next;   # gone already (the directory's own descriptor)
    fcntl($fh, POSIX::F_SETFD(), POSIX::FD_CLOEXEC()) or return 0;
  }
  return 1;
}

# A child born in the group (clone3 with CLONE_INTO_CGROUP): no process ever moves between groups.
sub fork_into {
  my ($cgroup) = @_;
  return fork() unless defined $cgroup;
  sysopen(my $dir, $cgroup, POSIX::O_RDONLY() | $O_DIRECTORY) or return -1;
  if ($clone3) {
    my $args = pack('Q11', $CLONE_INTO_CGROUP, 0, 0, 0, $SIGCHLD, 0, 0, 0, 0, 0, fileno($dir));
    my $pid = syscall($SYS_CLONE3, $args, length $args);
    return $pid if $pid >= 0;
    # An older kernel, or a seccomp filter that refuses clone3: fork from inside the group from now
    # on. Anything else (EAGAIN, ENOMEM) fails this start alone.
    my $errno = $! + 0;
    return -1 unless grep { $errno == $_ } (POSIX::ENOSYS(), POSIX::EPERM(), POSIX::EINVAL());
    $clone3 = 0;
  }
  open(my $procs, '>', "$cgroup/cgroup.procs") or return -1;
  syswrite($procs, "$$\n") or return -1;
  close($procs);
  my $pid = fork();
  # Back home at once, whether the fork worked or not (the child, if any, stays in the run's group).
  if ((!defined $pid || $pid > 0) && $home && open(my $back, '>', "$home/cgroup.procs")) { syswrite($back, "$$\n") }
  return $pid;
}

sub launch {
  my ($id, $cgroup, $uid, $gid, $groups, $cwd, $outfd, $errfd, $argv, $env) = @_;
  my %req = (uid => unhex($uid), gid => unhex($gid), groups => unhex($groups), cwd => unhex($cwd), argv => [list($argv)], env => [list($env)]);
  open(my $out, '>>', "/proc/$agent/fd/" . unhex($outfd)) or return print "E $id " . ($! + 0) . "\n";
  open(my $err, '>>', "/proc/$agent/fd/" . unhex($errfd)) or return print "E $id " . ($! + 0) . "\n";
  open(my $null, '<', '/dev/null') or return print "E $id " . ($! + 0) . "\n";
  @req{qw(out err null)} = (fileno($out), fileno($err), fileno($null));
  # Close-on-exec: it reads the errno of a failed exec, or nothing once exec succeeded.
  pipe(my $status_r, my $status_w) or return print "E $id " . ($! + 0) . "\n";
  my $pid = fork_into(unhex($cgroup));
  if (!defined $pid || $pid < 0) { my $errno = $! + 0; return print "E $id $errno\n" }
  if ($pid == 0) {
    close($status_r);
    eval { become(\%req) };
    syswrite($status_w, ($! + 0) . "\n");
    POSIX::_exit(127);
  }
  close($status_w);
  my $failed = '';
  for (;;) {
    my $got = sysread($status_r, $failed, 64, length $failed);
    last if defined $got ? $got == 0 : $! != POSIX::EINTR();
  }
  if ($failed ne '') {
    waitpid($pid, 0);
    chomp $failed;
    return print "E $id $failed\n";
  }
  $runs{$pid} = $id;
  my $pidfd = syscall($SYS_PIDFD_OPEN, $pid, 0);
  $pidfds{$pid} = $pidfd if $pidfd >= 0;
  print "S $id $pid\n";
}

sub reap {
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) {
    my $pidfd = delete $pidfds{$pid};
    POSIX::close($pidfd) if defined $pidfd;
    my $id = delete $runs{$pid};
    next unless defined $id;
    my $status = $?;
    print "X $id " . (($status & 127) ? "- " . ($status & 127) : ($status >> 8) . " -") . "\n";
  }
}

my $buffer = '';
for (;;) {
  my $ready = '';
  vec($ready, fileno(STDIN), 1) = 1;
  vec($ready, $_, 1) = 1 for values %pidfds;
  my $n = select($ready, undef, undef, keys(%pidfds) < keys(%runs) ? 0.05 : undef);
  reap();
  next unless $n > 0 && vec($ready, fileno(STDIN), 1);
  my $got = sysread(STDIN, $buffer, 65536, length $buffer);
  exit 0 unless $got;
  while ($buffer =~ s/^([^\n]*)\n//) {
    my @fields = split(/ /, $1, -1);
    if (@fields == 11 && $fields[0] eq 'L') { launch(@fields[1 .. 10]) }
    elsif (@fields > 1) { print "E $fields[1] " . POSIX::EINVAL() . "\n" }
  }
}
