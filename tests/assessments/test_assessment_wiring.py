from __future__ import annotations

from assessment_fakes import give

from ieltsprep.container import Container


def test_the_container_wires_speaking_parts_from_the_speaking_script(container: Container) -> None:
    give(container.store, "u1", "academic_speaking")
    item = container.assessments.create("u1", "academic_speaking")
    assert item["status"] == "in_progress" and item["parts"] and "tasks" not in item
    assert [part["part"] for part in item["parts"]] == [1, 2, 3]
