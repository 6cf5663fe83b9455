"""``DATA:LAT?`` replies of an idle and of a continuously measuring model (§4.1, §5.1, §6.1)."""

from __future__ import annotations

import re

from model_helpers import lines

from devices.keithley import Keithley6517B

#: An RTC TST element (§5.1): time of day, then the date.
RTC_STAMP = re.compile(r",(\d\d):(\d\d):(\d\d)\.\d\d,01-Jan-2024,")
IDLE_AFTER_ONE_READING = (":SYST:ZCH OFF;:INIT:CONT OFF;:ABOR;:TRIG:COUN 1;:ARM:LAY2:COUN 1;"
                          ":INIT")


def test_idle_latest_reading_is_printed_in_the_current_format() -> None:
    k = Keithley6517B(speed=0)
    lines(k, IDLE_AFTER_ONE_READING)
    first, second = lines(k, ":SENS:DATA:LAT?", ":SENS:DATA:LAT?")
    assert first == second and first.endswith("RDNG#")
    lines(k, ":FORM:ELEM READ")
    (bare,) = lines(k, ":SENS:DATA:LAT?")
    assert first.startswith(bare) and "," not in bare
    lines(k, ":FORM:ELEM READ,RNUM")
    number = first.split(",")[2].removesuffix("RDNG#")  # the suffix comes with UNIT only
    assert lines(k, ":SENS:DATA:LAT?") == [f"{bare},{number}"]


def test_rtc_timestamps_follow_the_clock_setting_for_the_same_reading() -> None:
    """§6.5, :SYST:TST:TYPE RTC: the TST element is the real-time clock."""
    k = Keithley6517B(speed=0)
    lines(k, IDLE_AFTER_ONE_READING, ":SYST:TST:TYPE RTC")
    (before,) = lines(k, ":SENS:DATA:LAT?")
    match = RTC_STAMP.search(before)
    assert match is not None and match.group(1) == "00", before
    lines(k, ":SYST:TIME 12,30,0")
    (after,) = lines(k, ":SENS:DATA:LAT?")
    match = RTC_STAMP.search(after)
    assert match is not None and (match.group(1), match.group(2)) in (("12", "29"), ("12", "30"))
    assert before.split(",")[0] == after.split(",")[0]  # the same reading
    lines(k, ":SYST:TST:TYPE REL")
    assert lines(k, ":SENS:DATA:LAT?")[0].split(",")[1].endswith("secs")


def test_power_on_latest_reading_is_new_for_every_message() -> None:
    """§6.1: INIT:CONT ON at speed 0 takes one reading per message."""
    k = Keithley6517B(speed=0)
    lines(k, ":SYST:ZCH OFF")
    replies = lines(k, *[":SENS:DATA:LAT?"] * 5)
    numbers = [int(re.search(r"([+-]\d{5})RDNG#", text).group(1))  # type: ignore[union-attr]
               for text in replies]
    assert numbers == list(range(numbers[0], numbers[0] + 5))


def test_reading_spacing_follows_an_nplc_change_between_messages() -> None:
    """§6.2: readings taken after :NPLC use the new conversion time."""
    k = Keithley6517B(speed=0)
    lines(k, ":SYST:ZCH OFF")

    def spacing() -> float:
        first, second = (float(text.split(",")[1].removesuffix("secs"))
                         for text in lines(k, ":SENS:DATA:LAT?", ":SENS:DATA:LAT?"))
        return second - first

    slow = spacing()
    lines(k, ":SENS:VOLT:NPLC 0.01")
    spacing()  # the first reading after the change
    fast = spacing()
    assert slow - fast > 0.04  # 1 PLC at 60 Hz is 53.7 ms per conversion, 0.01 PLC 3.05 ms
