"""Wellbeing questionnaires (WHO-5 and life satisfaction), captured under the wellbeing consent."""
