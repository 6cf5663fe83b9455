"""The §10 fidelity table: behaviours not established for the real instruments.

Each switchable row has a default (the emulator's choice) and alternatives;
``KeithleyConfig.fidelity`` maps row ids (``"F10"``) to the chosen option.
Rows answered by dedicated configuration keys name those keys instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from devices.keithley.config_checks import check_choice


@dataclass(frozen=True)
class FidelityRow:
    """One row of the §10 fidelity table.

    ``options[0]`` is the emulator default.  ``combinable`` rows bundle several
    independent questions: their value is ``default`` or a comma-separated set
    of the other options.  Rows answered entirely by dedicated keys have no
    options and name those keys in ``keys``.  ``alternatives`` says what the
    non-default options do where the question leaves it open.
    """

    question: str
    options: tuple[str, ...] = ()
    combinable: bool = False
    keys: tuple[str, ...] = ()
    alternatives: str = ""


FIDELITY_ROWS: Mapping[str, FidelityRow] = MappingProxyType({
    "F1": FidelityRow("input terminators CR/LF/CRLF/LFCR", ("all", "configured"),
                      alternatives="configured: only the configured output_terminator (CR, "
                      "LF, CRLF or LFCR) ends an input message, as the instrument's one RS-232 "
                      "terminator setting; any other CR or LF is a character of the message, "
                      "so the unit holding it fails with -101 (invalid character)"),
    "F2": FidelityRow("factory output terminator and serial settings",
                      keys=("output_terminator", "serial")),
    "F3": FidelityRow("input length limit and overrun error",
                      keys=("max_message_length", "overrun_error_code")),
    "F4": FidelityRow("several queries of one message joined with ';'", ("joined", "separate"),
                      alternatives="separate: each query of a message answers with its own "
                      "reply line"),
    "F5": FidelityRow("UP/DOWN for ranges", keys=("numeric_up_down",)),
    "F6": FidelityRow("error for an unquoted function name", ("-224", "-141", "-104"),
                      alternatives="-141: invalid character data; -104: data type error"),
    "F7": FidelityRow("execution errors discard the rest of the message",
                      ("discard", "continue"),
                      alternatives="continue: after an execution error (-2xx) the rest of "
                      "the message still executes; command errors still discard it"),
    "F8": FidelityRow("positive error code sign and mismatch code",
                      keys=("positive_error_plus", "buffer_mismatch_code")),
    "F9": FidelityRow("6514 error queue depth", keys=("error_queue_depth",)),
    "F10": FidelityRow("*TRG with nothing waiting", ("error", "silent"),
                       alternatives="silent: *TRG with nothing waiting does nothing and "
                       "queues no error"),
    "F11": FidelityRow("6514 *SAV/*RCL slots 0-2; *OPT? absent on the 6514",
                       ("default", "sav_0_9", "opt_query"), combinable=True,
                       alternatives="sav_0_9: the 6514 *SAV/*RCL take slots 0-9; opt_query: "
                       "the 6514 answers *OPT?"),
    "F12": FidelityRow("zero check after power-on and *RST", keys=("zero_check_default",)),
    "F13": FidelityRow("readings with zero check ON", keys=("zero_check_reading",)),
    "F14": FidelityRow("range query after RANG <value>", keys=("range_readback",)),
    "F15": FidelityRow("reply for an infinite count: 9.9E37 or NR3", ("short", "nr3"),
                       keys=("nr3_plus_sign",),
                       alternatives="nr3: an infinite count reads back as 9.900000E+37 "
                       "(with nr3_plus_sign, +9.900000E+37)"),
    "F16": FidelityRow("V-source reply format", keys=("vsource_reply_format",)),
    "F17": FidelityRow(":VSOurce:OPERate accepted", keys=("vsource_alias",)),
    "F18": FidelityRow("OUTPut1 and :SENS:RES:MAN:VSO:OPER one state; RLIM [:STATe] optional",
                       ("default", "separate_operate_states", "rlim_state_required"),
                       combinable=True,
                       alternatives="separate_operate_states: the manual-ohms OPERate flag is "
                       "stored apart and does not switch the V-source output; "
                       "rlim_state_required: :SOUR:CURR:RLIM without :STATe is -113"),
    "F19": FidelityRow(":CONFigure resets the function settings",
                       keys=("configure_resets_function",)),
    "F20": FidelityRow("READ? with INIT:CONT ON (-213) and with BUS/HOLD/INF (-214)",
                       ("error", "wait"),
                       alternatives="wait: READ? with INIT:CONT ON restarts the acquisition, "
                       "and with a BUS/HOLD layer or an infinite count it waits (no error)"),
    "F21": FidelityRow("DATA:LAT? before any reading +9.9E37; DATA:FRES? while idle -230",
                       ("default", "latest_error", "fresh_wait"), combinable=True,
                       alternatives="latest_error: DATA:LAT? before any reading is -230; "
                       "fresh_wait: DATA:FRES? while idle waits for a reading instead of -230"),
    "F22": FidelityRow("TRAC:ELEM default and mismatch elements", keys=("mismatch_elements",)),
    "F23": FidelityRow("TRAC:DATA? on an empty buffer", keys=("empty_buffer_dump",)),
    "F24": FidelityRow("NEXT reads back NEV when full; TRAC:POIN clears; TRAC:CLE while storing",
                       ("default", "next_keeps_feed", "points_keeps_buffer",
                        "clear_while_storing_error"), combinable=True,
                       alternatives="next_keeps_feed: a full NEXT buffer stops storing but "
                       "reads back NEXT, and storing resumes once TRAC:CLE or a larger POINts "
                       "makes room; points_keeps_buffer: TRAC:POIN keeps the oldest readings "
                       "that fit; clear_while_storing_error: TRAC:CLE while the trigger model "
                       "runs and the feed control is not NEV is -221"),
    "F25": FidelityRow("6517B capacity with elements; *RST/PRES keep TRACe; buffer cleared at "
                       "power-on", ("default", "reduced_capacity", "reset_touches_trace",
                                    "buffer_retained"), combinable=True,
                       alternatives="reduced_capacity: a reading takes 16 bytes plus 8 per "
                       "TRAC:ELEM item out of the memory of 50000 bare readings, so TRAC:POIN "
                       "above that is -222, TRAC:ELEM lowers POINts to fit and TRAC:FREE? counts "
                       "the bigger size; reset_touches_trace: *RST and :SYST:PRES restore the "
                       "power-on TRACe settings as if sent by commands; buffer_retained: "
                       "power-on keeps the stored readings and POINts"),
    "F26": FidelityRow("6517B CHAN element without a scanner", keys=("emit_channel",)),
    "F27": FidelityRow("special values short or padded", keys=("special_value_style",)),
    "F28": FidelityRow("RDNG# case in buffer dumps", keys=("buffer_rnum_suffix",)),
    "F29": FidelityRow("6514 status word: median sets bit 1; overflow digits",
                       ("default", "median_no_filter_bit", "short_overflow"), combinable=True,
                       alternatives="median_no_filter_bit: status bit 1 is set by the average "
                       "filter only; short_overflow: a 6514 overflow READ prints +9.9E37"),
    "F30": FidelityRow("reading number wraps after 99999; timestamp at reading end",
                       ("default", "no_rnum_wrap", "timestamp_at_start"), combinable=True,
                       alternatives="no_rnum_wrap: 6517B reading numbers count on past "
                       "+99999; timestamp_at_start: a reading's timestamp is the start of its "
                       "first conversion (after the trigger delay), not its end"),
    "F31": FidelityRow("6514 filters global only (other 6514 limits by dedicated keys)",
                       ("default", "per_function_filters"), combinable=True,
                       keys=("nplc_limits", "aperture_on_6514"),
                       alternatives="per_function_filters: each 6514 function has its own "
                       "filter settings, set through :SENS:<function>:MED/AVER; the global "
                       ":SENS:MED/AVER paths address the active function's"),
    "F32": FidelityRow("conversion time coefficients",
                       keys=("conv_factor", "conv_overhead_s", "median_block")),
    "F33": FidelityRow("autorange hysteresis", ("none",),
                       keys=("settling_table", "autorange_extra_conversions")),
    "F34": FidelityRow("query latency and *RST duration",
                       keys=("query_latency_s", "reset_duration_s")),
    "F35": FidelityRow("device-clear reply terminator", keys=("dcl_terminator",)),
    "F36": FidelityRow("with serial.xonxoff the device sends XOFF when more than 3/4 of "
                       "its input queue (max_message_length) holds unexecuted characters and "
                       "XON when that falls below 1/2", ("emit", "silent"),
                       alternatives="silent: the device never sends XON/XOFF; the host's "
                       "XON/XOFF is still honoured"),
    "F37": FidelityRow("SYST:VERS? on the 6514", ("default", "no_version_6514"),
                       combinable=True,
                       alternatives="no_version_6514: SYST:VERS? is an undefined header (-113) "
                       "on the 6514"),
    "F38": FidelityRow("6517B BAV at >= 2 readings; RAV clears when fetched",
                       ("default", "bav_one_reading", "rav_sticky"), combinable=True,
                       alternatives="bav_one_reading: the 6517B sets BAV from the first stored "
                       "reading; rav_sticky: FETCh?, READ? and DATA:LAT?/FRES? leave RAV set "
                       "(it clears at power-on)"),
    "F39": FidelityRow("error codes -221/-241/-222 where the manuals name none",
                       ("as_listed", "generic"),
                       alternatives="generic: those cases report the generic execution error "
                       "-200"),
    "F40": FidelityRow("other 6517B [U] details: SYST:HSC default OFF, no SYST:LFR",
                       ("default", "hsc_default_on", "lfr_on_6517b"), combinable=True,
                       alternatives="hsc_default_on: the 6517B SYST:HSC is ON after power-on, "
                       "*RST and :SYST:PRES; lfr_on_6517b: the 6517B answers SYST:LFR?"),
    "F41": FidelityRow("releasing zero check resets the charge reading", ("reset", "keep"),
                       alternatives="keep: releasing zero check leaves the accumulated charge"),
})


def fidelity_key_message(row: str) -> str:
    """Why ``row`` cannot be set through ``fidelity`` and what to use instead."""
    switchable = [name for name, spec in FIDELITY_ROWS.items() if spec.options]
    if row in FIDELITY_ROWS:
        keys = ", ".join(FIDELITY_ROWS[row].keys)
        return f"fidelity.{row} is not switchable here; use the config key(s) {keys}"
    return f"unknown fidelity row {row!r}; switchable rows: {', '.join(switchable)}"


def normalise_fidelity(values: Mapping[str, str]) -> dict[str, str]:
    """Every switchable row with its effective value; ``ValueError`` for a bad entry."""
    result = {name: spec.options[0] for name, spec in FIDELITY_ROWS.items() if spec.options}
    for row, value in dict(values).items():
        if row not in result:
            raise ValueError(f"config {fidelity_key_message(row)}")
        spec = FIDELITY_ROWS[row]
        if not isinstance(value, str):
            raise ValueError(f"config fidelity.{row}: expected a text, got {value!r}")
        parts = [part.strip() for part in value.split(",")] if spec.combinable else [value]
        for part in parts:
            check_choice(f"fidelity.{row}", part, spec.options)
        if spec.combinable and len(parts) > 1 and spec.options[0] in parts:
            raise ValueError(f"config fidelity.{row}: {spec.options[0]!r} cannot be combined "
                             "with other options")
        result[row] = ",".join(option for option in spec.options if option in parts)
    return result
