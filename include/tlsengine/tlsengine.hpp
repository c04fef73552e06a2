// tlsengine — umbrella header: a header-only, sans-I/O TLS engine on OpenSSL 3.
// SPDX-License-Identifier: MIT
#pragma once

#include "bytes.hpp"
#include "certificate.hpp"
#include "connection.hpp"
#include "context.hpp"
#include "errors.hpp"
#include "events.hpp"
#include "files.hpp"
#include "globals.hpp"
#include "identity.hpp"
#include "options.hpp"
#include "pump.hpp"
#include "result.hpp"
#include "server.hpp"
#include "session.hpp"
