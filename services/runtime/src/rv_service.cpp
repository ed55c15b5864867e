#include "spotline/runtime/rv_service.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include <algorithm>

#include "spotline/plan/validate.h"
#include "spotline/runtime/journal_queries.h"

namespace spotline::runtime {

Result<std::unique_ptr<RvService>, recorder::JournalError> RvService::open(ServiceContext ctx, plan::Facility facility,
                                                                           RvOptions options) {
  recorder::RecoveryReport report;
  recorder::JournalOptions jo{.dir = options.journalDir,
                              .signingKey = options.signingKey,
                              .checkpointRecords = options.checkpointRecords,
                              .checkpointInterval = options.checkpointInterval,
                              .segmentBytes = options.segmentBytes,
                              .sync = true};
  auto journal = recorder::JournalWriter::open(jo, &report);
  if (!journal) return journal.error();
  if (!options.signingKey) ctx.log->warn("no signing key: journal checkpoints are not signed");
  // A repair on open is part of the record: journal it before anything else.
  for (bool checkpoint : {false, true}) {
    if (checkpoint ? !report.truncatedCheckpoint : !report.truncatedTail) continue;
    ctx.log->warn("journal {} cut: segment={} offset={} bytes_dropped={}", checkpoint ? "torn checkpoint" : "torn tail",
                  checkpoint ? "CHECKPOINTS" : report.segment, report.offset,
                  checkpoint ? report.checkpointBytesDropped : report.bytesDropped);
    journal.value()->append(encodeIncident(report, checkpoint));
  }
  if (journal.value()->pendingRecords() > 0) {
    auto committed = journal.value()->commit();
    if (!committed) return committed.error();
  }
  std::unique_ptr<RvService> rv(
      new RvService(std::move(ctx), std::move(facility), std::move(options), std::move(journal).value()));
  auto rebuilt = rv->rebuildLedger();
  if (!rebuilt) return rebuilt.error();
  return rv;
}

Result<recorder::SigningKey, std::string> loadOrCreateSigningKey(const std::filesystem::path& file,
                                                                 spdlog::logger& log) {
  std::error_code ec;
  if (!std::filesystem::exists(file, ec)) {
    if (!file.parent_path().empty()) std::filesystem::create_directories(file.parent_path(), ec);
    auto made = recorder::generateSigningKey(file);
    if (!made) return fail(std::string("signing key"), made.error().message);
    log.warn("created journal signing key {} (public key {}.pub); keep it off the journal host in production",
             file.string(), file.string());
    return made.value();
  }
  auto key = recorder::loadSigningKey(file);
  if (!key) return fail(std::string("signing key"), key.error().message);
  return key.value();
}

std::vector<std::byte> encodeIncident(const recorder::RecoveryReport& report, bool checkpoint) {
  messages::Encoder encoder;
  auto m = encoder.start({.source = "rv", .wallTimeNs = unixNanosNow()}).initJournalIncident();
  m.setKind(checkpoint ? wire::JournalIncidentKind::TORN_CHECKPOINT : wire::JournalIncidentKind::TORN_TAIL);
  m.setSegment(checkpoint ? "CHECKPOINTS" : report.segment);
  m.setOffset(checkpoint ? 0 : report.offset);
  m.setIndex(report.records);
  m.setBytesDropped(checkpoint ? report.checkpointBytesDropped : report.bytesDropped);
  m.setDamage("truncated");
  m.setDetail(checkpoint ? "an incompletely written checkpoint line was cut on open"
                         : "the last, incompletely written group of a crashed writer was cut on open; its records "
                           "were never acknowledged");
  m.setRecordsKept(report.records);
  return encoder.finish();
}

RvService::RvService(ServiceContext ctx, plan::Facility facility, RvOptions options,
                     std::unique_ptr<recorder::JournalWriter> journal)
    : ctx_(std::move(ctx)),
      facility_(std::move(facility)),
      options_(std::move(options)),
      journal_(std::move(journal)),
      stream_(ctx_.zmq, ctx_.endpoints.rvStream),
      commands_(ctx_.zmq, ctx_.endpoints.rvCommand),
      publisher_(ctx_.zmq, ctx_.endpoints.busXsub),
      subscriber_(ctx_.zmq, ctx_.endpoints.busXpub),
      planClient_(ctx_.zmq, ctx_.endpoints.planCommand, "rv"),
      receiver_(
          stream_, "rv",
          [this](std::string_view, std::uint64_t, std::span<const std::byte> frame, const messages::Decoded& msg) {
            journalFrame(frame, msg);
            if (msg.body().isSpotDelivered()) spots_.Increment();
          }),
      heartbeat_("rv", ctx_.clock),
      records_(serviceCounter(*ctx_.registry, "rv", "spotline_rv_records_total", "Records appended to the journal")),
      spots_(serviceCounter(*ctx_.registry, "rv", "spotline_rv_spots_total", "Spot events journaled")),
      commits_(serviceCounter(*ctx_.registry, "rv", "spotline_rv_commits_total", "Group commits (fdatasync)")),
      duplicates_(serviceCounter(*ctx_.registry, "rv", "spotline_rv_duplicates_total", "Stream duplicates dropped")),
      refusals_(serviceCounter(*ctx_.registry, "rv", "spotline_rv_beam_on_refusals_total", "Beam-on requests refused")),
      commitSeconds_(prometheus::BuildHistogram()
                         .Name("spotline_rv_commit_seconds")
                         .Help("Duration of one group commit")
                         .Register(*ctx_.registry)
                         .Add({{"service", "rv"}}, prometheus::Histogram::BucketBoundaries{0.0001, 0.0005, 0.001, 0.002,
                                                                                           0.005, 0.01, 0.05})),
      durable_(prometheus::BuildGauge()
                   .Name("spotline_rv_durable_records")
                   .Help("Durable records in the journal")
                   .Register(*ctx_.registry)
                   .Add({{"service", "rv"}})) {
  for (const char* topic : {"hb.", "dose.", "qa.", "plan.loaded"}) subscriber_.subscribe(topic);
}

RvService::~RvService() = default;

Result<bool, recorder::JournalError> RvService::rebuildLedger() {
  auto reader = recorder::JournalReader::open(options_.journalDir);
  if (!reader) return reader.error();
  std::uint64_t n = 0;
  while (true) {
    auto rec = reader.value()->next();
    if (!rec) return rec.error();
    if (!rec.value()) break;
    ++n;
    auto decoded = messages::decode(rec.value()->payload);
    if (!decoded) continue;  // a record rv did not write as a message is not a delivery event
    ledger_.record(*decoded.value());
  }
  for (const auto& [fraction, entry] : ledger_.all()) receiver_.setExpected(fraction, entry.lastSequence + 1);
  durable_.Set(static_cast<double>(journal_->durableRecords()));
  ctx_.log->info("journal opened dir={} records={} fractions={}", options_.journalDir.string(), n,
                 ledger_.all().size());
  return true;
}

void RvService::journalFrame(std::span<const std::byte> frame, const messages::Decoded& msg) {
  if (ctx_.killed->load()) return;  // a killed process writes nothing more
  journal_->append(frame);
  records_.Increment();
  ledger_.record(msg);
  auto body = msg.body();
  if (body.isFractionStarted()) {
    auto f = body.getFractionStarted();
    ctx_.log->info("fraction={} plan={} room={} started", bus::view(f.getFractionId()), bus::view(f.getPlanUid()),
                   bus::view(f.getRoom()));
  } else if (body.isFractionEnded()) {
    auto f = body.getFractionEnded();
    ctx_.log->info("fraction={} ended spots={} meterset={}", bus::view(f.getFractionId()), f.getSpotsDelivered(),
                   f.getMetersetDelivered());
  }
}

bool RvService::commit() {
  if (ctx_.killed->load()) return false;
  if (journal_->pendingRecords() == 0) return true;
  if (!healthy_) return false;
  auto t0 = ctx_.clock.now();
  auto r = journal_->commit();
  if (!r) {
    // The state of the journal file is unknown: acknowledge nothing more. Delivery's credit window
    // and the heartbeat (ready=false) hold the beam.
    healthy_ = false;
    ctx_.log->critical("journal commit failed: {}; no further acknowledgements", r.error().message);
    return false;
  }
  commits_.Increment();
  commitSeconds_.Observe(std::chrono::duration<double>(ctx_.clock.now() - t0).count());
  durable_.Set(static_cast<double>(r.value()));
  return true;
}

void RvService::serveQueries(std::stop_token stop) {
  bus::ZmqRouter router(ctx_.zmq, ctx_.endpoints.rvQuery);
  messages::Encoder encoder;
  while (!stop.stop_requested()) {
    bus::pollReadable({&router.socket()}, std::chrono::milliseconds(50));
    while (auto in = router.receive()) {
      auto decoded = messages::decode(in->frame);
      if (!decoded) {
        ctx_.log->warn("refused query frame: {}", decoded.error().message);
        continue;
      }
      const auto corr = decoded.value()->envelope().getCorrelationId();
      auto out =
          encoder.start({.source = "rv", .correlationId = corr, .wallTimeNs = unixNanosNow()}).initJournalQueryReply();
      if (!decoded.value()->body().isJournalQuery()) {
        out.setError(std::string("rv's query socket answers JournalQuery, not ") +
                     std::string(messages::bodyName(decoded.value()->body().which())));
      } else if (ctx_.killed->load()) {
        continue;
      } else {
        auto q = decoded.value()->body().getJournalQuery();
        if (q.getKind() == wire::JournalQueryKind::FRACTIONS) {
          auto r = queryFractions(options_.journalDir);
          out.setOk(r.ok());
          if (r)
            out.setText(r.value().dump(2));
          else
            out.setError(r.error().message);
        } else {
          const std::uint32_t max =
              q.getMaxRecords() == 0 ? options_.queryPageLines : std::min(q.getMaxRecords(), options_.queryPageLines);
          auto r = querySpots(options_.journalDir, bus::str(q.getFractionId()), q.getFirstRecord(), max);
          out.setOk(r.ok());
          if (r) {
            out.setText(r.value().csv);
            out.setNextRecord(r.value().next);
            out.setMore(r.value().more);
          } else {
            out.setError(r.error().message);
          }
        }
      }
      router.send(in->peer, encoder.finish());
    }
  }
}

void RvService::run(std::stop_token stop) {
  ctx_.log->info("rv up stream={} commands={} queries={}", ctx_.endpoints.rvStream, ctx_.endpoints.rvCommand,
                 ctx_.endpoints.rvQuery);
  std::jthread queries;
  if (!ctx_.endpoints.rvQuery.empty()) queries = std::jthread([this](std::stop_token st) { serveQueries(st); });
  while (!stop.stop_requested()) {
    heartbeat_.tick(publisher_, ready_ && healthy_);
    bus::pollReadable({&stream_.socket(), &commands_.socket(), &subscriber_.socket()}, std::chrono::milliseconds(20));
    auto before = receiver_.stats().duplicates;
    receiver_.poll(options_.maxBatch);
    duplicates_.Increment(static_cast<double>(receiver_.stats().duplicates - before));
    while (auto ev = subscriber_.receive()) {
      ready_ = true;
      if (ev->topic.starts_with("hb.")) continue;
      auto decoded = messages::decode(ev->frame);
      if (!decoded) {
        ctx_.log->warn("refused event topic={}: {}", ev->topic, decoded.error().message);
        continue;
      }
      journalFrame(ev->frame, *decoded.value());
    }
    if (commit()) receiver_.acknowledgeDurable();
    while (auto in = commands_.receive()) handleCommand(*in);
    // An idle journal gets its checkpoint too: no record stays unsigned longer than the interval.
    const auto now = ctx_.clock.now();
    if (healthy_ && journal_->durableRecords() > journal_->checkpointedRecords() &&
        now - lastCheckpointLook_ >= options_.checkpointInterval) {
      lastCheckpointLook_ = now;
      if (auto cp = journal_->checkpoint(); !cp) {
        healthy_ = false;
        ctx_.log->critical("journal checkpoint failed: {}; no further acknowledgements", cp.error().message);
      }
    }
  }
  if (ctx_.killed->load()) {
    ctx_.log->warn("rv killed: {} records were not committed", journal_->pendingRecords());
    return;
  }
  if (commit()) {
    if (auto cp = journal_->checkpoint(); !cp) ctx_.log->error("final checkpoint failed: {}", cp.error().message);
  }
  ctx_.log->info("rv stopping durable_records={} checkpointed={}", journal_->durableRecords(),
                 journal_->checkpointedRecords());
}

void RvService::handleCommand(const bus::Inbound& in) {
  auto decoded = messages::decode(in.frame);
  if (!decoded) {
    ctx_.log->warn("refused command frame: {}", decoded.error().message);
    return;
  }
  const auto& msg = *decoded.value();
  auto body = msg.body();
  auto corr = msg.envelope().getCorrelationId();
  if (body.isVerifyBeamOn()) {
    verify(in, msg);
  } else if (body.isFractionQuery()) {
    // Answer only about durable state, and acknowledge it first: whoever asks next (delivery, for
    // the room's next fraction) must not see this fraction as still in flight.
    if (commit()) receiver_.acknowledgeDurable();
    auto fraction = bus::str(body.getFractionQuery().getFractionId());
    auto out =
        encoder_.start({.source = "rv", .correlationId = corr, .wallTimeNs = unixNanosNow()}).initFractionSummary();
    out.setFractionId(fraction);
    out.setJournalRecords(journal_->durableRecords());
    out.setNextSequence(1);
    if (const auto* e = ledger_.find(fraction)) {
      out.setNextSequence(e->lastSequence + 1);
      out.setFound(true);
      out.setEnded(e->ended);
      out.setOutcome(e->outcome);
      out.setSpotsRecorded(e->spots);
      out.setMetersetRecorded(e->meterset);
      out.setEventsRecorded(e->events);
    }
    commands_.send(in.peer, encoder_.finish());
  } else {
    auto err = encoder_.start({.source = "rv", .correlationId = corr}).initErrorReply();
    err.setWhat(std::string("rv does not answer ") + std::string(messages::bodyName(body.which())));
    commands_.send(in.peer, encoder_.finish());
  }
}

void RvService::verify(const bus::Inbound& in, const messages::Decoded& msg) {
  auto req = msg.body().getVerifyBeamOn();
  auto fraction = bus::str(req.getFractionId());
  auto planUid = bus::str(req.getPlanUid());
  auto hash = bus::str(req.getContentHash());
  auto room = bus::str(req.getRoom());
  // Every check that refuses, in order. Only "room" (a beam planned for another room's machine:
  // a transfer between twin rooms, which a physicist approves) may be overridden; a wrong plan,
  // patient or ion, or a fraction delivered twice, never.
  struct Finding {
    std::string code;
    std::string text;
    bool overridable = false;
  };
  std::vector<Finding> findings;
  auto refuse = [&](std::string code, std::string text, bool overridable = false) {
    findings.push_back(Finding{std::move(code), std::move(text), overridable});
  };

  auto q = planClient_.begin().initGetPlan();
  q.setPlanUid(planUid);
  auto reply = planClient_.call(std::chrono::milliseconds(3000));
  const plan::RoomModel* roomModel = facility_.room(room);
  if (!reply) {
    refuse("plan-service", "plan service did not answer (" + reply.error().message + ")");
  } else if (!reply.value().body().isPlanReply() || !reply.value().body().getPlanReply().getOk()) {
    refuse("plan-unknown", "no approved plan with UID " + planUid);
  } else {
    auto pr = reply.value().body().getPlanReply();
    auto approvedHash = bus::str(pr.getContentHash());
    auto approvedPatient = bus::str(pr.getPlan().getPatientId());
    if (approvedHash != hash) {
      refuse("content-hash", "content hash " + hash.substr(0, 16) + "… differs from the approved plan's " +
                                 approvedHash.substr(0, 16) + "…");
    }
    if (req.getPatientId().size() != 0 && bus::str(req.getPatientId()) != approvedPatient) {
      refuse("patient", "patient id " + bus::str(req.getPatientId()) + " does not match the plan's " + approvedPatient);
    }
    if (roomModel == nullptr) {
      refuse("room-unknown", "unknown room " + room);
    } else {
      const auto want = req.getIon();
      for (auto beam : pr.getPlan().getBeams()) {
        if (!beam.getTreatment()) continue;
        const auto number = std::to_string(beam.getNumber());
        auto ion = beam.getIon();
        const plan::IonSpecies species{ion.getZ(), ion.getA(), ion.getCharge()};
        if (ion.getZ() != want.getZ() || ion.getA() != want.getA()) {
          refuse("ion", "beam " + number + " is planned with ion Z=" + std::to_string(ion.getZ()) +
                            " A=" + std::to_string(ion.getA()) + ", but beam-on was requested for Z=" +
                            std::to_string(want.getZ()) + " A=" + std::to_string(want.getA()));
        }
        if (std::none_of(roomModel->ions.begin(), roomModel->ions.end(),
                         [&](const plan::IonSpecies& i) { return i.z == species.z && i.a == species.a; })) {
          refuse("ion", "room " + room + " cannot receive the ion of beam " + number +
                            " (Z=" + std::to_string(ion.getZ()) + ")");
        }
        auto answering = plan::roomForMachine(facility_, bus::view(beam.getMachine()));
        if (!answering || *answering != room) {
          refuse("room",
                 "beam " + number + " is for machine " + bus::str(beam.getMachine()) + ", which room " + room +
                     " does not answer to",
                 answering.has_value());
        }
      }
    }
  }
  const FractionEntry* entry = ledger_.find(fraction);
  // A fraction is delivered once. One that was interrupted (a hold closed the session, or the
  // delivery service died) may be resumed, with the same plan in the same room.
  if (entry != nullptr && entry->ended && entry->outcome == wire::FractionOutcome::COMPLETED) {
    refuse("already-delivered", "fraction " + fraction + " was already delivered");
  } else if (entry != nullptr && entry->ended && entry->outcome == wire::FractionOutcome::ABORTED) {
    refuse("aborted", "fraction " + fraction + " was aborted by the operator; it is not resumed");
  } else if (entry != nullptr && !req.getResume()) {
    refuse("interrupted", "fraction " + fraction + " already has " + std::to_string(entry->events) +
                              " journaled events and was interrupted; resume it (--resume " + fraction + ")");
  } else if (entry == nullptr && req.getResume()) {
    refuse("nothing-to-resume", "fraction " + fraction + " has nothing journaled; there is nothing to resume");
  } else if (entry != nullptr && entry->contentHash != hash) {
    refuse("resume-plan", "fraction " + fraction + " was started with plan content hash " +
                              entry->contentHash.substr(0, 16) + "…; a resume must deliver the same plan");
  } else if (entry != nullptr && entry->room != room) {
    refuse("resume-room", "fraction " + fraction + " was started in room " + entry->room + ", not " + room);
  }

  // Overrides: each names a check, with a reason and a user; the request carrying them is
  // journaled with the answer below.
  std::vector<std::string> overridden;
  for (auto o : req.getOverrides()) {
    const auto check = bus::str(o.getCheck());
    if (o.getReason().size() == 0 || o.getUser().size() == 0) {
      refuse("override", "the override of '" + check + "' needs a reason and a user");
      continue;
    }
    bool matched = false;
    for (auto it = findings.begin(); it != findings.end();) {
      if (it->code == check && it->overridable) {
        matched = true;
        it = findings.erase(it);
      } else {
        ++it;
      }
    }
    const bool refusedHere =
        std::any_of(findings.begin(), findings.end(), [&](const Finding& f) { return f.code == check; });
    if (refusedHere) {
      refuse("override", "check '" + check + "' cannot be overridden");
    } else if (matched) {
      overridden.push_back(check);
    }
  }
  std::string refusal;
  std::string code;
  bool overridable = false;
  if (!findings.empty()) {
    refusal = findings.front().text;
    code = findings.front().code;
    overridable = std::all_of(findings.begin(), findings.end(), [](const Finding& f) { return f.overridable; });
    for (std::size_t i = 1; i < findings.size(); ++i) refusal += "; and " + findings[i].text;
  }
  auto corr = msg.envelope().getCorrelationId();
  auto out = encoder_.start({.source = "rv", .correlationId = corr, .wallTimeNs = unixNanosNow()}).initVerifyReply();
  out.setPermitted(refusal.empty());
  out.setReason(refusal);
  out.setCode(code);
  out.setOverridable(overridable);
  auto list = out.initOverridden(static_cast<unsigned>(overridden.size()));
  for (unsigned i = 0; i < overridden.size(); ++i) list.set(i, overridden[i]);
  out.setResumeFrom(entry != nullptr ? entry->lastSequence + 1 : 1);
  if (entry != nullptr) {
    out.setResumeBeam(entry->lastBeam);
    out.setResumeLayer(entry->lastLayer);
    out.setResumeSpot(entry->lastSpot);
    out.setResumeSpotDelivered(entry->lastPartial ? entry->lastSpotDelivered : 0.0);
    out.setResumeAfterSpot(entry->anySpot && !entry->lastPartial);
    out.setSpotsRecorded(entry->spots);
    out.setMetersetRecorded(entry->meterset);
    out.setSessions(entry->sessions);
    out.setHasResumePoint(entry->anySpot);
  }
  auto frame = encoder_.finish();
  // The decision is part of the record: journal the request and the answer before answering.
  journal_->append(in.frame);
  // The approved plan rv checked against, as the plan service sent it: the record of what was
  // verified (and what a treatment record exports), independent of the plan service's later state.
  if (reply && reply.value().body().isPlanReply() && reply.value().body().getPlanReply().getOk()) {
    journal_->append(reply.value().frame);
    records_.Increment();
  }
  journal_->append(frame);
  records_.Increment(2);
  ledger_.record(msg);
  if (auto decodedReply = messages::decode(frame)) ledger_.record(*decodedReply.value());
  if (!commit()) {
    ctx_.log->error("fraction={} verification not durable; refusing", fraction);
    auto o2 = encoder_.start({.source = "rv", .correlationId = corr}).initVerifyReply();
    o2.setPermitted(false);
    o2.setReason("rv cannot write its journal");
    commands_.send(in.peer, encoder_.finish());
    return;
  }
  if (!refusal.empty()) {
    refusals_.Increment();
    ctx_.log->warn("fraction={} plan={} room={} beam-on refused: {}", fraction, planUid, room, refusal);
  } else {
    ctx_.log->info("fraction={} plan={} room={} beam-on verified", fraction, planUid, room);
    for (auto o : req.getOverrides()) {
      if (std::find(overridden.begin(), overridden.end(), bus::view(o.getCheck())) == overridden.end()) continue;
      ctx_.log->warn("fraction={} check {} overridden by {}: {}", fraction, bus::view(o.getCheck()),
                     bus::view(o.getUser()), bus::view(o.getReason()));
    }
  }
  commands_.send(in.peer, frame);
}

}  // namespace spotline::runtime
