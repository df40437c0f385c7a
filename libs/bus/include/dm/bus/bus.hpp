#pragma once
// Everything of dm::bus in one include.
#include "dm/bus/connection.hpp"
#include "dm/bus/jetstream.hpp"
#include "dm/bus/message.hpp"
