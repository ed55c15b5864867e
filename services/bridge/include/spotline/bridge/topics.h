#pragma once
// Which Kafka topic a journaled message goes to, and its key. Keys are fraction ids, so that one
// fraction's events share a partition and stay in journal order; plan messages, which belong to no
// fraction yet, are keyed by plan UID. Every journaled body has a topic: Kafka holds the whole
// journal, split by what the readers want.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "spotline/wire/envelope.capnp.h"

namespace spotline::bridge {

enum class Topic : std::uint8_t { Plans, Fractions, Spots, Dose, Qa, Interlocks };
inline constexpr std::size_t kTopicCount = 6;
inline constexpr std::array<Topic, kTopicCount> kTopics{Topic::Plans, Topic::Fractions, Topic::Spots,
                                                        Topic::Dose,  Topic::Qa,        Topic::Interlocks};

// "plans", "fractions", "spots", "dose", "qa", "interlocks"; the topic is prefix + this.
std::string_view topicSuffix(Topic topic);
inline constexpr std::string_view kDefaultTopicPrefix = "spotline.";

// Kafka record headers the bridge sets on every record.
inline constexpr const char* kHeaderSequence = "spotline-seq";   // journal record index, decimal
inline constexpr const char* kHeaderSchema = "spotline-schema";  // wire schema version, decimal
inline constexpr const char* kHeaderBody = "spotline-body";      // body name, e.g. spotDelivered

// spots: SpotDelivered. dose: DoseRecorded. qa: QaEvent. interlocks: beam holds, hold requests and
// journal incidents. plans: plan loading and the approved plan rv checks a beam-on against.
// fractions: everything else (commands, beam-on verification, fraction and layer progress).
Topic topicOf(wire::Message::Body::Reader body);

// The fraction id; for plan messages the plan UID; empty for a body with neither (incidents).
std::string keyOf(wire::Message::Body::Reader body);

}  // namespace spotline::bridge
