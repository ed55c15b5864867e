#pragma once
// Plans between the in-memory model and the wire.

#include "spotline/plan/plan.h"
#include "spotline/plan/validate.h"
#include "spotline/wire/plan.capnp.h"

namespace spotline::runtime {

void toWire(const plan::Plan& plan, wire::Plan::Builder out);
plan::Plan fromWire(wire::Plan::Reader in);
void toWire(const std::vector<plan::Violation>& violations, capnp::List<wire::Violation>::Builder out);
std::vector<plan::Violation> fromWire(capnp::List<wire::Violation>::Reader in);

wire::MetersetUnit toWire(MetersetUnit unit);
MetersetUnit fromWire(wire::MetersetUnit unit);

}  // namespace spotline::runtime
