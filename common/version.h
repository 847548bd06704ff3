/* version: the one version of every binary (supervisor, worker, piyasactl,
 * piyasa-fakeapi): their --version, the supervisor's /status and /metrics. */
#ifndef PIYASA_VERSION_H
#define PIYASA_VERSION_H

#define PIYASA_VERSION "0.1.0"

#endif
