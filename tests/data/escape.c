/* Tries one way out of the sandbox, named by argv[1]. Prints ESCAPED and exits 0 when the
 * attempt worked, prints BLOCKED with the reason and exits 1 when it did not. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static int blocked(const char *what) {
    printf("BLOCKED %s: %s\n", what, strerror(errno));
    return 1;
}

static int escaped(const char *what) {
    printf("ESCAPED %s\n", what);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    const char *attack = argv[1];
    if (!strcmp(attack, "write")) { /* argv[2]: a file outside */
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) return blocked("write");
        if (write(fd, "pwned\n", 6) != 6) return blocked("write");
        return escaped("write");
    }
    if (!strcmp(attack, "read")) { /* argv[2]: a secret outside */
        char buffer[256];
        int fd = open(argv[2], O_RDONLY);
        if (fd < 0) return blocked("read");
        ssize_t n = read(fd, buffer, sizeof buffer - 1);
        if (n < 0) return blocked("read");
        buffer[n] = 0;
        printf("read: %s\n", buffer);
        return escaped("read");
    }
    if (!strcmp(attack, "connect")) { /* argv[2]: a port on 127.0.0.1 */
        int s = socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0) return blocked("socket");
        struct sockaddr_in address = {0};
        address.sin_family = AF_INET;
        address.sin_port = htons(atoi(argv[2]));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (connect(s, (struct sockaddr *)&address, sizeof address) < 0) return blocked("connect");
        return escaped("connect");
    }
    if (!strcmp(attack, "ptrace")) {
        pid_t child = fork();
        if (child == 0) { pause(); _exit(0); }
        long result = ptrace(PTRACE_ATTACH, child, 0, 0);
        int saved = errno;
        kill(child, 9);
        errno = saved;
        if (result < 0) return blocked("ptrace");
        return escaped("ptrace");
    }
    if (!strcmp(attack, "mount")) {
        if (mount("tmpfs", "/build", "tmpfs", 0, 0) < 0) return blocked("mount");
        return escaped("mount");
    }
    if (!strcmp(attack, "unshare")) {
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) return blocked("unshare");
        return escaped("unshare");
    }
    if (!strcmp(attack, "setuid")) {
        if (setuid(1000) < 0) return blocked("setuid");
        return escaped("setuid");
    }
    if (!strcmp(attack, "chown")) { /* give a file away to another user */
        int fd = open("owned", O_WRONLY | O_CREAT, 0644);
        if (fd < 0 || fchown(fd, 1000, 1000) < 0) return blocked("chown");
        return escaped("chown");
    }
    if (!strcmp(attack, "forkbomb")) {
        for (int count = 0; count < 100000; count++) {
            pid_t child = fork();
            if (child < 0) {
                printf("fork failed after %d processes\n", count);
                return blocked("forkbomb");
            }
            if (child == 0) { pause(); _exit(0); }
        }
        return escaped("forkbomb");
    }
    if (!strcmp(attack, "tiocsti")) { /* push keystrokes into the caller's terminal */
        /* Assembled here, so the text only reaches the terminal if the injection works. */
        char keys[64];
        snprintf(keys, sizeof keys, "echo %s-%s\n", "INJECTED", "BY-THE-BUILD");
        int fds[4] = {0, 1, 2, open("/dev/tty", O_RDWR | O_NOCTTY)};
        if (fds[3] < 0) printf("no controlling terminal: %s\n", strerror(errno));
        int injected = 0, reason = ENOTTY;
        for (int i = 0; i < 4; i++) {
            if (fds[i] < 0) continue;
            if (isatty(fds[i])) printf("fd %d is a terminal\n", i);
            for (char *key = keys; *key; key++)
                if (ioctl(fds[i], TIOCSTI, key) == 0) injected = 1;
                else if (isatty(fds[i])) reason = errno;
            char linux_request = 0; /* TIOCLINUX subcodes: 0 is harmless, the call is the test */
            if (ioctl(fds[i], TIOCLINUX, &linux_request) == 0) injected = 1;
        }
        /* On a file the kernel answers ENOTTY; only a filter in front of it says EPERM. */
        int probe = open(argv[0], O_RDONLY);
        if (ioctl(probe, TIOCSTI, keys) < 0) printf("TIOCSTI on a file: %s\n", strerror(errno));
        fflush(stdout);
        if (injected) return escaped("tiocsti");
        errno = reason;
        return blocked("tiocsti");
    }
    return 2;
}
