# language: da
Egenskab: Opfølgende trivselsmåling 6-8 måneder efter baseline
  Trivselsoplysninger indsamles ved første samtale (baseline) og igen 6-8 måneder senere
  med et valideret spørgeskema (WHO-5 og Danmarks Statistiks spørgsmål om livstilfredshed;
  projektbeskrivelsen, "Trivselsdata"). Samtykkeservicen sætter selv opfølgningen på
  navigatørens arbejdsliste, når den skal gøres, markerer den som forfalden efter otte
  måneder og tager den af listen, når den er besvaret. Perioderne er indstillinger
  (6 og 8 måneder som udgangspunkt).

  Baggrund:
    Givet en borger henvist den 2. november 2026 med et trivselssamtykke underskrevet den 20. november 2026
    Og borgeren har besvaret trivselsspørgeskemaet ved baseline den 1. december 2026

  Scenarie: Opfølgningen kommer på arbejdslisten seks måneder efter baseline
    Når samtykkeservicen kører sine planlagte opgaver den 31. maj 2027
    Så står der ingen opfølgning på arbejdslisten
    Når samtykkeservicen kører sine planlagte opgaver den 1. juni 2027
    Så står opfølgningen på arbejdslisten, og den skal være besvaret senest den 1. august 2027

  Scenarie: Opfølgningen er forfalden efter otte måneder
    Når samtykkeservicen kører sine planlagte opgaver den 2. august 2027
    Så er opfølgningen på arbejdslisten markeret som forfalden

  Scenarie: En besvaret opfølgning forsvinder fra arbejdslisten
    Givet samtykkeservicen har kørt sine planlagte opgaver den 1. juni 2027
    Når borgeren besvarer trivselsspørgeskemaet ved opfølgning den 15. juli 2027
    Så står der ingen opfølgning på arbejdslisten

  Scenarie: Efter tilbagekaldelse af trivselssamtykket kommer der ingen opfølgning
    Når borgeren tilbagekalder trivselssamtykket den 1. marts 2027
    Og samtykkeservicen kører sine planlagte opgaver den 1. juni 2027
    Så står der ingen opfølgning på arbejdslisten
