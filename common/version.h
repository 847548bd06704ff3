/* version: the supervisor's version, shared by --version, /status and /metrics. */
#ifndef PIYASA_VERSION_H
#define PIYASA_VERSION_H

#define PIYASA_VERSION "0.1.0"

#endif
